"""The HTML report of a job or of models: page.py (what it says), charts.py (its charts laid out),
report.html.j2 and report.css (how it looks)."""
