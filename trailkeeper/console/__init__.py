"""The web console: sign-in, event history (view, search, download), activity chart and trails at /console.

The app lives in ``trailkeeper.console.app``; this package imports nothing eagerly, so the session
store can be used (by the state backend, by ``trailkeeper validate``) without Starlette and Jinja2.
"""
