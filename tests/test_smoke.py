"""A first end-to-end look: pages render and a question can be found."""

from tests.conftest import login, post_form


def test_home_ask_and_search(client, make_user, make_thread):
    make_user("ann")
    login(client, "ann")
    html = client.get("/").get_data(as_text=True)
    assert "How can we help?" in html
    response = post_form(
        client,
        "/ask",
        {
            "title": "Stream 4K remote stopped pairing",
            "body": "The voice remote will not pair after I changed the batteries.",
            "tags": "remote stream-4k",
        },
        token_from="/ask",
    )
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    assert "Stream 4K remote stopped pairing" in page.get_data(as_text=True)
    found = client.get("/search?q=remote+pairing").get_data(as_text=True)
    assert "Stream 4K remote stopped pairing" in found
