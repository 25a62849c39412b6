"""Errors that describe bad user input precisely enough to fix it."""


class InputError(ValueError):
    """Bad input: names the file, line and field, and the offending value.

    Services raise it; commands turn it into a CommandError and the API into a 400.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        line: int | None = None,
        field: str = "",
        value: object = None,
        key: str = "",
    ) -> None:
        """`key` names an entry of a JSON object file (a model in LiteLLM's prices) where a CSV has a line."""
        self.message, self.path, self.line, self.field, self.value = message, path, line, field, value
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = f" (got {self.value!r})" if self.value is not None else ""
        if not self.path and self.line is None and not self.key:
            return f"{self.field}: {self.message}{shown}" if self.field else f"{self.message}{shown}"
        where = self.path or "input"
        if self.line is not None:
            where += f", line {self.line}"
        if self.key:
            where += f", key {self.key!r}"
        if self.field:
            where += f", {'field' if self.key else 'column'} {self.field}"
        shown = f" (got {self.value!r})" if self.value is not None else ""
        return f"{where}: {self.message}{shown}"
