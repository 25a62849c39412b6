"""Paging to the end of a long list without reading all of it."""

from django.contrib import messages
from django.core.paginator import Page, Paginator


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


def page_shown(request, paginator: Paginator, name: str = "page") -> Page:
    """The page `?page=` asks for. One before the first shows the first, one past the last the last, and anything
    but a whole number the first, each with a message saying which page is shown instead (never silently)."""
    asked = request.GET.get(name, "").strip()
    last = paginator.num_pages
    try:
        number = int(asked or "1")
    except ValueError:
        number, why = 1, f"page {asked!r} is not a page number: showing page 1"
    else:
        why = ""
        if number < 1:
            number, why = 1, f"page {asked} is before the first page: showing page 1"
        elif number > last:
            number, why = last, f"page {asked} is past the last page, {last}: showing it"
    if why:
        messages.warning(request, why[0].upper() + why[1:] + ".")
    return paginator.page(number)
