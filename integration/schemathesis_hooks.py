"""Checks syncd's own rules on every answer schemathesis gets (SCHEMATHESIS_HOOKS=schemathesis_hooks)."""
import schemathesis


@schemathesis.check
def no_internal_error(ctx, response, case):
    # 502/503/504 are documented (a data store did not answer, syncd is stopping, a timeout);
    # a 500 is syncd failing on input it should have answered.
    if response.status_code == 500:
        raise AssertionError(f"500 Internal Server Error: {response.text[:500]}")
