"""Quality rules for `shardlm clean`, one module per source (pure functions, no Beam).

- `config`: `FilterConfig`, the named presets (none, basic, c4, gopher, fineweb) and `combine`;
- `text`: the shared `Page` (lines, paragraphs, words, duplicate lines, computed once);
- `c4`: C4's line and page rules; `gopher`: the word rules and Gopher's quality rules;
  `repetition`: Gopher's repetition rules; `fineweb`: FineWeb's line filters;
- `wordlist`: the user word-list filter.

`pipelines.clean.filters` runs them on each record; see docs/filters.md.
"""
