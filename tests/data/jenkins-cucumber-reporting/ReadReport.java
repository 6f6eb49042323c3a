// Reads a cucumber JSON report with cucumber-reporting, the library of the Jenkins Cucumber Reports plugin:
// java -cp CLASSPATH ReadReport.java REPORT.json OUTPUT_DIR. Prints its counts; exit 1 when it cannot read the report.
import net.masterthought.cucumber.*;
import java.io.File;
import java.util.List;
public class ReadReport {
  public static void main(String[] args) throws Exception {
    Configuration configuration = new Configuration(new File(args[1]), "kfcheck");
    Reportable result = new ReportBuilder(List.of(args[0]), configuration).generateReports();
    if (result == null) { System.err.println("cucumber-reporting could not read " + args[0]); System.exit(1); }
    System.out.println(result.getScenarios() + " scenarios, " + result.getPassedScenarios() + " passed, "
        + result.getFailedScenarios() + " failed; steps failed " + result.getFailedSteps());
  }
}
