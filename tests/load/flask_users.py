"""The Flask side of the load bench: a users app in the source's manner
(Flask-SQLAlchemy, SQLite), written for the bench.

GET /users/<id> answers one user as JSON, GET /users?page=&per_page= a
page of them (Flask-SQLAlchemy's paginate), POST /users adds one from a
JSON body. The database is USERS_DATABASE; `flask --app flask_users fill N`
makes the table and N users.
"""

import os

import click
from flask import Flask, abort, jsonify, request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.abspath(
    os.environ["USERS_DATABASE"]
)
db = SQLAlchemy(app)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String, unique=True, nullable=False)

    def as_json(self):
        return {"id": self.id, "username": self.username}


@app.get("/users/<int:user_id>")
def one_user(user_id):
    user = db.session.get(User, user_id) or abort(404)
    return jsonify(user.as_json())


@app.get("/users")
def some_users():
    page = db.paginate(db.select(User).order_by(User.id), max_per_page=100)
    return jsonify({"users": [user.as_json() for user in page.items], "total": page.total})


@app.post("/users")
def new_user():
    username = (request.get_json(silent=True) or {}).get("username")
    if not isinstance(username, str) or not username:
        abort(400)
    user = User(username=username)
    db.session.add(user)
    db.session.commit()
    return jsonify(user.as_json()), 201


@app.cli.command("fill")
@click.argument("count", type=int)
def fill(count):
    db.create_all()
    db.session.add_all(User(username=f"user{i}") for i in range(1, count + 1))
    db.session.commit()
