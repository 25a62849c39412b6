"""The member UI's pages. Each page can answer as HTML, as CSV (`?format=csv`: the table it shows) and, for
pages with charts, as the charts' JSON (`?format=json`), all through the same scoping: another team's
page, CSV or chart data is a 404."""
