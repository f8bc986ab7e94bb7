"""Articles: the model, the parser, summaries, languages, dates and filters — pure."""
