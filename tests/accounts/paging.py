"""Reading a Users search page after page, as the Next links do."""

from accounts.selectors_search import UserPage, user_search


def search_pages(query: str, *, page_size: int) -> list[UserPage]:
    """Every page of `query`, each asked for after the last id of the one before."""
    pages = [user_search(query=query, page_size=page_size)]
    while pages[-1].next_after is not None:
        pages.append(user_search(query=query, after=pages[-1].next_after, page_size=page_size))
    return pages


def search_all(query: str, *, page_size: int) -> list:
    """The users of every page of `query`, in the order the pages show them."""
    return [user for page in search_pages(query, page_size=page_size) for user in page.users]
