"""The portal: server-rendered pages for people, under `/ui/`, over the same services and queries.

Jinja2 templates (autoescaped) in `templates/`, one stylesheet, two scripts and the icon in
`static/` (htmx, vendored from npm with its licence, and `portal.js` for live parts over SSE;
`favicon.svg`, and its raster `favicon.ico` also served at `/favicon.ico`); every
core action is a plain form or link, so it all works with JavaScript off. `security.py`
guards every page (session, CSRF, headers); `routes.py` is the route table.
"""
