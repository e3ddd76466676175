"""Schema revisions, applied in order by ``Store.open``; a package so that the wheel ships them."""
