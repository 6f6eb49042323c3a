// Validates a cucumber JSON report with @cucumber/cucumber-json-converter (Cucumber's own schemas of each
// implementation): node validate-json.cjs REPORT.json. Prints the implementation it matched; exit 1 if none.
const fs = require("node:fs");
const { convert } = require("@cucumber/cucumber-json-converter");

const report = JSON.parse(fs.readFileSync(process.argv[2], "utf-8"));
try {
  const converted = convert(report);
  console.log(`valid cucumber JSON (${converted.implementation})`);
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
