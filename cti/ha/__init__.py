"""Two nodes, one truth: the active/standby pair behind Kamailio (issue 15).

``lease`` decides (pure) who may hold the active node's lease; ``storage.lease`` reads and writes
the lease row in PostgreSQL; ``node`` owns this node's role and the task that renews or takes the
lease; ``takeover`` is what a node does when it becomes active after the other one died.
"""
