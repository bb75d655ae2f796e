from kb.search.service import run_search, match
from tests.conftest import login, post_form

def test_x(app, client, make_thread, make_answer, make_user):
    t = make_thread(title="Router drops connection every evening", body="My connection drops at 8pm. <script>alert(1)</script> & stuff happens", tags=["router","wifi"])
    t2 = make_thread(title="Bill went up in April", body="Why did my bill increase this year by five pounds?", tags=["billing"])
    make_answer(t, body="Change the wireless channel to 36 on the five gigahertz band.")
    for q in ["dropping", "conection", "routr", "channel", "router", "script", "alert", "wifi", "gigahertz"]:
        r = run_search(q)
        print(q, [(h.title, h.score, h.snippet_html) for h in r.hits], r.suggestion, r.corrected_from)
    print(match("router keeps dropping"))
    html = client.get("/search?q=alert").get_data(as_text=True)
    i = html.find("snippet"); print(html[i-200:i+400])
    for p in ["100000", "99999999999", "500000"]:
        print(p, client.get("/search?q=router&page="+p).status_code)
    assert 0
