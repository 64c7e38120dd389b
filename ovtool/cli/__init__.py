"""Thin command modules: options → load_recipe → run stage → print result. Only typer/stdlib at top."""
