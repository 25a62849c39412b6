"""Paging to the end of a long list without reading all of it."""

from django.core.paginator import Paginator


def rows_from_the_end(queryset, *, count: int, bottom: int, per_page: int) -> list:
    """Rows [bottom, bottom + per_page) of an ordered queryset of `count` rows, read through the reversed
    ordering with a small OFFSET and turned back round: an OFFSET near the end walks the whole list, this
    one only the rows after the page. The order must be total (ties broken by id), as pages need anyway."""
    top = min(bottom + per_page, count)
    rows = list(queryset.reverse()[count - top : count - bottom])
    rows.reverse()
    return rows


class TailPaginator(Paginator):
    """A Paginator whose pages in the second half are read from the end (rows_from_the_end): the last page of
    a million rows costs what the first does."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom <= self.count // 2 or not getattr(self.object_list, "ordered", False):
            return super().page(number)
        rows = rows_from_the_end(self.object_list, count=self.count, bottom=bottom, per_page=self.per_page)
        return self._get_page(rows, number, self)
