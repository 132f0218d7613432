"""The web console: sign-in, event history (view, search, download), activity chart and trails at /console."""

from trailkeeper.console.app import ConsoleApp, console_path

__all__ = ["ConsoleApp", "console_path"]
