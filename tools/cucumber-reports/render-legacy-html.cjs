// Renders a cucumber JSON report with cucumber-html-reporter (a consumer CI setups use; it is not our HTML
// report): node render-legacy-html.cjs REPORT.json OUTPUT.html
const reporter = require("cucumber-html-reporter");

const [jsonFile, output] = process.argv.slice(2);
reporter.generate({
  theme: "bootstrap",
  jsonFile,
  output,
  reportSuiteAsScenarios: true,
  launchReport: false,
  name: "kfcheck",
});
