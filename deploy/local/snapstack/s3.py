"""The S3-compatible server of the media service's S3 backend: S3Proxy on the filesystem, from Maven Central."""

from __future__ import annotations

import shutil
from pathlib import Path

from .layout import ARTIFACTS, HERE, S3_BUCKET, S3_IDENTITY, Layout
from .processes import StepFailed, port_open, run_step, spawn, wait_until


def s3proxy_lib() -> Path:
    lib = ARTIFACTS / "s3proxy-lib"
    stamp = lib / ".pom-stamp"
    pom = (HERE / "s3proxy" / "pom.xml").read_bytes()
    if stamp.exists() and stamp.read_bytes() == pom:
        return lib
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StepFailed("step 's3proxy artifact download' needs Maven and a JDK 17+ on PATH")
    shutil.rmtree(lib, ignore_errors=True)
    run_step(
        "s3proxy artifact download (Maven Central)",
        ["mvn", "-q", "-B", "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={lib}"],
        HERE / "s3proxy",
    )
    stamp.write_bytes(pom)
    return lib


S3_LOGBACK = """<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d %level %logger{20} - %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


def start_s3(layout: Layout) -> None:
    """S3Proxy (Apache-2.0) on the filesystem: an S3-compatible server, buckets are folders."""
    lib = s3proxy_lib()
    home = layout.dir / "s3"
    data = home / "data"
    (data / S3_BUCKET).mkdir(parents=True, exist_ok=True)  # the bucket: a folder of the filesystem backend
    (home / "logback.xml").write_text(S3_LOGBACK)
    (home / "s3proxy.conf").write_text(
        f"s3proxy.endpoint=http://127.0.0.1:{layout.s3_port}\n"
        "s3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={S3_IDENTITY[0]}\n"
        f"s3proxy.credential={S3_IDENTITY[1]}\n"
        "jclouds.provider=filesystem\n"
        f"jclouds.filesystem.basedir={data}\n"
    )
    java = shutil.which("java") or "java"
    spawn(
        "s3proxy",
        [
            java,
            "-Xms64m",
            "-Xmx256m",
            *(["-XX:TieredStopAtLevel=1"] if layout.profile == "test" else []),
            f"-Dlogback.configurationFile={home / 'logback.xml'}",
            "-cp",
            f"{lib}/*",
            "org.gaul.s3proxy.Main",
            "--properties",
            str(home / "s3proxy.conf"),
        ],
        home,
    )
    wait_until("s3proxy start", lambda: port_open(layout.s3_port), 60, home / "s3proxy.log")
