"""One pydantic model per recipe section, each in its own module."""
