"""Create or drop the smoke test's throwaway database: `smoke_db.py create|drop DATABASE_URL`.

A SQLite URL is left alone (the file is created by migrate and lives in a temporary directory).
"""

import sys

import environ
import psycopg
from psycopg import sql


def main(action: str, url: str) -> None:
    config = environ.Env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        return
    connect = {"host": config["HOST"] or None, "port": config["PORT"] or None, "user": config["USER"] or None,
               "password": config["PASSWORD"] or None, "dbname": "postgres", "autocommit": True}  # fmt: skip
    name = sql.Identifier(config["NAME"])
    with psycopg.connect(**connect) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        if action == "create":
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))


if __name__ == "__main__":
    main(*sys.argv[1:3])
