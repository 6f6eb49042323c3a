// Renders a cucumber JSON report as one HTML page: node render.js CUCUMBER_JSON OUTPUT_HTML
const reporter = require("cucumber-html-reporter");
const [jsonFile, output] = process.argv.slice(2);
if (!jsonFile || !output) {
  console.error("usage: node render.js CUCUMBER_JSON OUTPUT_HTML");
  process.exit(2);
}
reporter.generate({
  theme: "bootstrap",
  jsonFile,
  output,
  reportSuiteAsScenarios: true,
  launchReport: false,
  brandTitle: "kfcheck",
  name: "Kubeflow validation",
  metadata: { "Suite": "kfcheck", "Generated": new Date().toISOString() },
});
