"""The staff consoles' platform: sign-in, sessions, CSRF, language, audit, base templates.

Each feature owns its pages in a ``console.py`` (listed by ``app.features``); this
package gives them what every page needs (``app.console.web``).
"""
