"""Privacy: redaction of personal data in free text, caller-id hashing, the service secret, rescans.

- ``redaction/``: the redactor (patterns, a Japanese address grammar and SudachiPy's proper-noun
  tags for names).
- ``caller_id``: hashing and display of callers' numbers.
- ``secret``: the privacy secret and the objects built from the configuration.
- ``rescan``: re-redaction of stored records with the current redactor.
"""
