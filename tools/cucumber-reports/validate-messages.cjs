// Validates Cucumber Messages (NDJSON) against the JSON schema that @cucumber/messages ships:
// node validate-messages.cjs MESSAGES.ndjson. Prints the number of envelopes; exit 1 naming the first invalid one.
const fs = require("node:fs");
const path = require("node:path");
const Ajv2020 = require("ajv/dist/2020").default;

const schema = JSON.parse(
  fs.readFileSync(path.join(__dirname, "node_modules", "@cucumber", "messages", "messages.schema.json"), "utf-8"),
);
const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
const lines = fs.readFileSync(process.argv[2], "utf-8").split("\n").filter((line) => line.trim() !== "");
lines.forEach((line, index) => {
  const envelope = JSON.parse(line);
  if (!validate(envelope)) {
    console.error(`line ${index + 1} (${Object.keys(envelope)[0]}): ${JSON.stringify(validate.errors, null, 2)}`);
    process.exit(1);
  }
});
console.log(`${lines.length} valid envelopes`);
