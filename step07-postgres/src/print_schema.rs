//! `db print-schema`: `schema.rs` for the database as it is, as diesel's
//! own `print-schema` writes it, so that who writes the SQL first needs no
//! diesel command-line tool to get diesel's picture of it. Its picture of
//! each table, [`found`], is also what `db migrate` and `db check` compare
//! `schema.rs` with.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::Error;
use crate::backend::Conn;
use crate::migrate::tables;

/// A table as `schema.rs` declares it or the database has it: its name,
/// its primary key and its columns.
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub key: Vec<String>,
    pub columns: Vec<Column>,
}

/// A column: its name, diesel's SQL type for it (`Text`, `BigInt`, ...),
/// and whether it may hold NULL. From the database, also the type as SQL
/// declares it and the default, if any.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub sql_type: String,
    pub nullable: bool,
    pub declared_as: String,
    pub default: Option<String>,
}

#[derive(QueryableByName)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    r#type: String,
    #[diesel(sql_type = BigInt)]
    notnull: i64,
    #[diesel(sql_type = BigInt)]
    pk: i64,
    #[diesel(sql_type = Nullable<Text>)]
    dflt_value: Option<String>,
}

#[derive(QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    from: String,
}

/// Every table of the database (diesel's own version table left out), as
/// diesel sees it: a column is `Nullable` where SQL allows NULL, which a
/// primary key never does. SQLite's catalogue is its `pragma_` tables;
/// PostgreSQL's, the standard `information_schema`.
pub fn found(conn: &mut Conn) -> Result<Vec<Table>, Error> {
    let (query, postgres) = match conn {
        Conn::Sqlite(_) => (SQLITE_COLUMNS, false),
        Conn::Postgres(_) => (POSTGRES_COLUMNS, true),
    };
    let mut found = Vec::new();
    for name in tables(conn)? {
        let columns: Vec<ColumnInfo> =
            diesel::sql_query(query).bind::<Text, _>(&name).load(conn)?;
        let mut key: Vec<&ColumnInfo> = columns.iter().filter(|c| c.pk > 0).collect();
        key.sort_by_key(|c| c.pk);
        let key = key.iter().map(|c| c.name.clone()).collect();
        let columns = columns
            .into_iter()
            .map(|c| Column {
                sql_type: diesel_type(&c.r#type, postgres).0.to_owned(),
                nullable: c.notnull == 0 && c.pk == 0,
                name: c.name,
                declared_as: c.r#type,
                default: c.dflt_value,
            })
            .collect();
        found.push(Table { name, key, columns });
    }
    Ok(found)
}

// ANCHOR: print_schema
/// The `table!` of every table, a `joinable!` for each foreign key, and the
/// line that lets them meet in a query. A column type it does not know is
/// printed as `Text` with a comment saying so, for the reader to decide.
pub fn print_schema(conn: &mut Conn) -> Result<String, Error> {
    let found = found(conn)?;
    let (foreign_keys, postgres) = match conn {
        Conn::Sqlite(_) => (SQLITE_FOREIGN_KEYS, false),
        Conn::Postgres(_) => (POSTGRES_FOREIGN_KEYS, true),
    };
    let (mut tables_text, mut joins) = (Vec::new(), Vec::new());
    for table in &found {
        let lines: Vec<String> = table
            .columns
            .iter()
            .map(|c| column_line(c, postgres))
            .collect();
        tables_text.push(format!(
            "diesel::table! {{\n    {} ({}) {{\n{}\n    }}\n}}\n",
            table.name,
            table.key.join(", "),
            lines.join("\n")
        ));
        let keys: Vec<ForeignKey> = diesel::sql_query(foreign_keys)
            .bind::<Text, _>(&table.name)
            .load(conn)?;
        joins.extend(keys.into_iter().map(|fk| {
            let (name, to, from) = (&table.name, fk.table, fk.from);
            format!("diesel::joinable!({name} -> {to} ({from}));\n")
        }));
    }
    let names: Vec<&str> = found.iter().map(|t| t.name.as_str()).collect();
    let together = format!(
        "diesel::allow_tables_to_appear_in_same_query!({});\n",
        names.join(", ")
    );
    Ok(format!(
        "{}\n{}{together}",
        tables_text.join("\n"),
        joins.concat()
    ))
}

/// One column of a `table!`: `name -> Type,`.
fn column_line(column: &Column, postgres: bool) -> String {
    let rust = match column.nullable {
        true => format!("Nullable<{}>", column.sql_type),
        false => column.sql_type.clone(),
    };
    let note = match diesel_type(&column.declared_as, postgres).1 {
        true => String::new(),
        false => format!(" // SQL type {}: check it", column.declared_as),
    };
    format!("        {} -> {rust},{note}", column.name)
}

const SQLITE_COLUMNS: &str =
    "SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info(?) ORDER BY cid";
const SQLITE_FOREIGN_KEYS: &str = "SELECT \"table\", \"from\" FROM pragma_foreign_key_list(?)";
const POSTGRES_COLUMNS: &str = "
    SELECT c.column_name AS name, c.data_type AS type, c.column_default AS dflt_value,
           CASE WHEN c.is_nullable = 'NO' THEN 1 ELSE 0 END::bigint AS notnull,
           COALESCE((SELECT k.ordinal_position FROM information_schema.key_column_usage k
                     JOIN information_schema.table_constraints t
                       USING (constraint_schema, constraint_name)
                     WHERE t.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema
                       AND k.table_name = c.table_name AND k.column_name = c.column_name), 0)::bigint AS pk
    FROM information_schema.columns c
    WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position";
const POSTGRES_FOREIGN_KEYS: &str = "
    SELECT u.table_name AS \"table\", k.column_name AS \"from\"
    FROM information_schema.table_constraints t
    JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
    JOIN information_schema.constraint_column_usage u USING (constraint_schema, constraint_name)
    WHERE t.constraint_type = 'FOREIGN KEY' AND t.table_schema = current_schema() AND t.table_name = $1";

/// diesel's SQL type for a column declared `declared`, by SQLite's own
/// affinity rules and PostgreSQL's type names, and whether it is one this
/// step knows.
fn diesel_type(declared: &str, postgres: bool) -> (&'static str, bool) {
    let declared = declared.to_ascii_uppercase();
    match declared.as_str() {
        // A SQLite INTEGER holds 64 bits; PostgreSQL's holds 32.
        "INTEGER" if postgres => ("Integer", true),
        "SMALLINT" => ("SmallInt", true),
        _ if declared.starts_with("TIMESTAMP") || declared == "DATETIME" => ("Timestamp", true),
        "BOOLEAN" | "BOOL" => ("Bool", true),
        "DATE" => ("Date", true),
        _ if declared.contains("INT") => ("BigInt", true),
        _ if ["CHAR", "CLOB", "TEXT"]
            .iter()
            .any(|t| declared.contains(t)) =>
        {
            ("Text", true)
        }
        _ if declared.contains("BLOB") => ("Binary", true),
        _ if ["REAL", "FLOA", "DOUB"]
            .iter()
            .any(|t| declared.contains(t)) =>
        {
            ("Double", true)
        }
        _ => ("Text", false),
    }
}
// ANCHOR_END: print_schema
