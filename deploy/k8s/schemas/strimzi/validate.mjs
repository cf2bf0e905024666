// Validates Strimzi custom resources (one JSON document per line on stdin) with the
// validators that @kubernetes-models/strimzi-kafka-operator generates from Strimzi's
// published CRDs: types, enums, required fields. Prints one line per invalid resource
// and a final "N valid, M invalid"; exits 1 if any is invalid.
// Installed next to its node_modules by deploy/local/install.sh.
import { readFileSync } from "node:fs";

const lines = readFileSync(0, "utf8").split("\n").filter(Boolean);
let invalid = 0;
for (const line of lines) {
  const doc = JSON.parse(line);
  const [group, version] = doc.apiVersion.split("/");
  const module = await import(`@kubernetes-models/strimzi-kafka-operator/${group}/${version}/${doc.kind}`);
  try {
    new module[doc.kind](doc).validate();
  } catch (error) {
    invalid += 1;
    console.log(`${doc.kind}/${doc.metadata.name}: ${error.message}`);
  }
}
console.log(`${lines.length - invalid} valid, ${invalid} invalid`);
process.exit(invalid ? 1 : 0);
