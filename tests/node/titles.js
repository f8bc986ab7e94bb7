// Reads the feed files named on the command line with rss-parser, as Node.js Telegram
// feed bots do, and prints each one's entry titles as JSON: {"file": ["title", ...]}.
const Parser = require("rss-parser");
const fs = require("fs");

(async () => {
  const parser = new Parser();
  const out = {};
  for (const file of process.argv.slice(2)) {
    const feed = await parser.parseString(fs.readFileSync(file, "utf8"));
    out[file] = feed.items.map((item) => item.title);
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
