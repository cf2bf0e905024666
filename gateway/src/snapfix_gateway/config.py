"""Settings of the gateway (``SNAPFIX_*`` environment variables)."""

from pydantic import Field

from snapfix_shared.settings import ProcessSettings


class GatewaySettings(ProcessSettings):
    http_port: int = 8000
    issues_url: str = "http://127.0.0.1:8001"
    # Reads routed to the owning service give up after this long (then 503).
    upstream_timeout_s: float = Field(default=2.0, gt=0)
    # Allowance for clock skew between the gateway and the brokers, added to a
    # command's accept_by so that a command acknowledged in time is never refused.
    clock_skew_allowance_s: float = Field(default=1.0, ge=0)
