"""Paging to the end of a long list without reading all of it."""

from django.core.paginator import Paginator


class TailPaginator(Paginator):
    """A Paginator whose pages in the second half are read from the end: the reversed ordering with a small
    OFFSET, turned back round. The last page of a million rows costs what the first does, instead of an
    OFFSET that walks the whole list. Needs an ordered queryset whose order is total (ties broken by id)."""

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        queryset = self.object_list
        if bottom <= self.count // 2 or not getattr(queryset, "ordered", False):
            return super().page(number)
        rows = list(queryset.reverse()[self.count - top : self.count - bottom])
        rows.reverse()
        return self._get_page(rows, number, self)
