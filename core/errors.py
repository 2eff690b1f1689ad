"""The project's own error type for problems a user can cause and fix."""


class UserInputError(ValueError):
    """Bad input from a user: a file, a path or a setting.

    The message is one line that names the problem and what to do about it. The CLI prints it
    and exits non-zero; the app shows it with ``st.error``. Anything else that is raised is a bug.
    """
