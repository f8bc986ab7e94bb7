"""Publishing: feeds, pages, the rendered site, the static export and WebSub."""
