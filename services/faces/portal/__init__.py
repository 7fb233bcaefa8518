"""The portal: server-rendered pages for people, under `/ui/`, over the same services and queries.

Jinja2 templates (autoescaped) in `templates/`, one stylesheet and two scripts in `static/`
(htmx, vendored from npm with its licence, and `portal.js` for live parts over SSE); every
core action is a plain form or link, so it all works with JavaScript off. `security.py`
guards every page (session, CSRF, headers); `routes.py` is the route table.
"""
