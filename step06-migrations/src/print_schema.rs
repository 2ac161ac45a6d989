//! `db print-schema`: `schema.rs` for the database as it is, as diesel's
//! own `print-schema` writes it, so that who writes the SQL first needs no
//! diesel command-line tool to get diesel's picture of it. Its picture of
//! each table, [`found`], is also what `db migrate` and `db check` compare
//! `schema.rs` with.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::Error;
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
/// primary key never does.
pub fn found(conn: &mut SqliteConnection) -> Result<Vec<Table>, Error> {
    let mut found = Vec::new();
    for name in tables(conn)? {
        let columns: Vec<ColumnInfo> = diesel::sql_query(
            "SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind::<Text, _>(&name)
        .load(conn)?;
        let mut key: Vec<&ColumnInfo> = columns.iter().filter(|c| c.pk > 0).collect();
        key.sort_by_key(|c| c.pk);
        let key = key.iter().map(|c| c.name.clone()).collect();
        let columns = columns
            .into_iter()
            .map(|c| Column {
                sql_type: diesel_type(&c.r#type).0.to_owned(),
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
pub fn print_schema(conn: &mut SqliteConnection) -> Result<String, Error> {
    let found = found(conn)?;
    let (mut tables_text, mut joins) = (Vec::new(), Vec::new());
    for table in &found {
        let lines: Vec<String> = table.columns.iter().map(column_line).collect();
        tables_text.push(format!(
            "diesel::table! {{\n    {} ({}) {{\n{}\n    }}\n}}\n",
            table.name,
            table.key.join(", "),
            lines.join("\n")
        ));
        let keys: Vec<ForeignKey> =
            diesel::sql_query("SELECT \"table\", \"from\" FROM pragma_foreign_key_list(?)")
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
fn column_line(column: &Column) -> String {
    let rust = match column.nullable {
        true => format!("Nullable<{}>", column.sql_type),
        false => column.sql_type.clone(),
    };
    let note = match diesel_type(&column.declared_as).1 {
        true => String::new(),
        false => format!(" // SQL type {}: check it", column.declared_as),
    };
    format!("        {} -> {rust},{note}", column.name)
}

/// diesel's SQL type for a column declared `declared`, by SQLite's own
/// affinity rules, and whether it is one this step knows.
fn diesel_type(declared: &str) -> (&'static str, bool) {
    let declared = declared.to_ascii_uppercase();
    match declared.as_str() {
        "TIMESTAMP" | "DATETIME" => ("Timestamp", true),
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
