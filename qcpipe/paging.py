"""Lists shown a page at a time (the worklist, the audit log, the jobs page's runs and failed calls)."""

from __future__ import annotations


class PageCount:
    """How many pages a paged list has: mixed into a dataclass with `total` and `page_size`."""

    total: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))
