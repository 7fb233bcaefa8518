async def test_smoke(api):
    r = await api.admin("POST", "/api/process/v1", json={"name": "A", "script": "echo-params"})
    print(r.status, await r.text())
    assert r.status == 201
    r = await api.admin("GET", "/api/process/v1/A")
    print(r.status, await r.text(), r.headers)
    assert r.status == 200
