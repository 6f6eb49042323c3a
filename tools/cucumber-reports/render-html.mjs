// Cucumber Messages (NDJSON on stdin) -> one self-contained HTML page on stdout, by @cucumber/html-formatter.
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { CucumberHtmlStream } from "@cucumber/html-formatter";

async function* envelopes() {
  let number = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    number += 1;
    if (line.trim() === "") continue;
    try {
      yield JSON.parse(line);
    } catch (error) {
      throw new Error(`line ${number} of the messages is not JSON: ${error.message}`);
    }
  }
}

await pipeline(Readable.from(envelopes()), new CucumberHtmlStream(), process.stdout);
