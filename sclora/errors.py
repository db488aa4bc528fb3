"""One exception type for every problem a user can fix.

The CLI maps it to exit code 2 with a one-line message, the app to ``gr.Error``.
"""


class SCLoRAError(ValueError):
    """A problem with the user's input (file, parameter, model name), written for a user."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`SCLoRAError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise SCLoRAError(message)
