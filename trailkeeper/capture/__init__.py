"""Capture: the HTTP gateway that turns every AWS-style call into a parsed call and a verified principal."""
