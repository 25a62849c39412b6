"""Errors that describe bad user input precisely enough to fix it."""


class InputError(ValueError):
    """Bad input: names the file, line and field, and the offending value.

    Services raise it; commands turn it into a CommandError and the API into a 400.
    """

    def __init__(
        self, message: str, *, path: str = "", line: int | None = None, field: str = "", value: object = None
    ) -> None:
        self.message, self.path, self.line, self.field, self.value = message, path, line, field, value
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = f" (got {self.value!r})" if self.value is not None else ""
        if not self.path and self.line is None:
            return f"{self.field}: {self.message}{shown}" if self.field else f"{self.message}{shown}"
        where = self.path or "input"
        if self.line is not None:
            where += f", line {self.line}"
        if self.field:
            where += f", column {self.field}"
        shown = f" (got {self.value!r})" if self.value is not None else ""
        return f"{where}: {self.message}{shown}"
