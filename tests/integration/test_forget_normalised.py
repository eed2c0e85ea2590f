"""`receiver forget` finds an address however it is spelt: as given (rows from before issue 17 kept it as sent) and
as ``valid_email`` stores it now (IDNA domain, lower case)."""

from click.testing import CliRunner

from receiver.cli import main
from receiver.invitation import Invitation
from receiver.store import NewInvitation
from support.data import base_env


def test_forget_finds_the_stored_idna_form_and_the_old_spelling(store, clock, database_url):
    for message_id, email in (("new", "jürgen@xn--bcher-kva.de"), ("old", "jürgen@bücher.de")):
        store.outbox.add([NewInvitation(Invitation(message_id=message_id, email=email, name="J", ref=message_id))],
                         domain="example.com", now=clock())
    result = CliRunner().invoke(main, ["forget", "jürgen@Bücher.de"], env=base_env(DATABASE_URL=database_url))
    assert result.exit_code == 0, result.output
    assert "erased from 2 invitation(s)" in result.output
    assert store.reports.find(message_id="new").email is None and store.reports.find(message_id="old").email is None
