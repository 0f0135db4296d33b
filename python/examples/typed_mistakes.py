"""Mistakes both type checkers must catch (python/tests/test_typing.py
expects an error on every line marked ``# error``)."""

from aep_edge import EdgeClient, StoreEntry

client = EdgeClient("ds", session="nnone")  # error
client = EdgeClient("ds", retry={"maxAttemps": 3})  # error
client = EdgeClient("ds", tls_roots="mozilla")  # error
client = EdgeClient("ds", default_consent="out")  # error
entry: StoreEntry = {"key": "k"}  # error
status: str = client.interact({"xdm": {}}).status  # error
