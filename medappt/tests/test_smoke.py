import pytest


@pytest.mark.django_db
def test_register_login_me(anon_client):
    r = anon_client.post(
        "/api/v1/auth/register/",
        {
            "email": "Foo@Example.com",
            "password": "a-long-enough-pass",
            "first_name": "F",
            "last_name": "L",
        },
    )
    assert r.status_code == 201, r.json()
    r = anon_client.post(
        "/api/v1/auth/token/", {"email": "foo@example.com", "password": "a-long-enough-pass"}
    )
    assert r.status_code == 200, r.json()
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {r.json()['access']}")
    r = anon_client.get("/api/v1/auth/me/")
    assert r.status_code == 200
    assert r.json()["email"] == "foo@example.com"
