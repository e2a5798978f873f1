//! `$metadata` (CSDL XML) and the service document, generated from the
//! org's table definitions (dataverse.md §1.1, §9.2).

use axum::http::{header, StatusCode};

use super::{json_reply, Ctx};
use crate::call::Reply;
use crate::world::tables::json::Out;
use crate::world::tables::schema::{ColumnType, TableDef};
use crate::world::tables::Org;

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSDL document: one `EntityType` per table (key, properties,
/// lookups as `NavigationProperty` with `ReferentialConstraint`), the
/// `WhoAmI` function and an `EntityContainer` with one `EntitySet` per table.
pub(super) fn csdl(org: &Org) -> Reply {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str(
        "<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\n",
    );
    x.push_str("<edmx:DataServices>\n");
    x.push_str("<Schema Namespace=\"Microsoft.Dynamics.CRM\" Alias=\"mscrm\" xmlns=\"http://docs.oasis-open.org/odata/ns/edm\">\n");
    x.push_str("<EntityType Name=\"crmbaseentity\" Abstract=\"true\" />\n");
    for table in &org.tables {
        let def = &table.def;
        x.push_str(&format!(
            "<EntityType Name=\"{}\" BaseType=\"mscrm.crmbaseentity\">\n<Key><PropertyRef Name=\"{}\" /></Key>\n",
            xml_escape(&def.logical_name),
            xml_escape(&def.primary_id)
        ));
        x.push_str(&format!(
            "<Property Name=\"{}\" Type=\"Edm.Guid\" />\n",
            xml_escape(&def.primary_id)
        ));
        for column in &def.columns {
            let length = match (column.ty, column.max_length) {
                (ColumnType::String | ColumnType::Memo, Some(max)) => {
                    format!(" MaxLength=\"{max}\"")
                }
                _ => String::new(),
            };
            x.push_str(&format!(
                "<Property Name=\"{}\" Type=\"{}\"{length} />\n",
                xml_escape(&column.name),
                column.ty.edm()
            ));
        }
        for lookup in &def.lookups {
            x.push_str(&format!(
                "<Property Name=\"{}\" Type=\"Edm.Guid\" />\n",
                xml_escape(&lookup.column)
            ));
        }
        x.push_str("<Property Name=\"createdon\" Type=\"Edm.DateTimeOffset\" />\n");
        x.push_str("<Property Name=\"modifiedon\" Type=\"Edm.DateTimeOffset\" />\n");
        x.push_str("<Property Name=\"versionnumber\" Type=\"Edm.Int64\" />\n");
        for lookup in &def.lookups {
            let target = org
                .table(&lookup.target)
                .map(|t| std::sync::Arc::clone(&t.def));
            let (target_logical, target_id) = target
                .map(|d| (d.logical_name.clone(), d.primary_id.clone()))
                .unwrap_or_default();
            x.push_str(&format!(
                "<NavigationProperty Name=\"{}\" Type=\"mscrm.{}\">\n<ReferentialConstraint Property=\"{}\" ReferencedProperty=\"{}\" />\n</NavigationProperty>\n",
                xml_escape(&lookup.navigation),
                xml_escape(&target_logical),
                xml_escape(&lookup.column),
                xml_escape(&target_id)
            ));
        }
        for (child, lookup) in collections(org, def) {
            x.push_str(&format!(
                "<NavigationProperty Name=\"{}\" Type=\"Collection(mscrm.{})\" Partner=\"{}\" />\n",
                xml_escape(&lookup.collection_name(child)),
                xml_escape(&child.logical_name),
                xml_escape(&lookup.navigation)
            ));
        }
        if !def.alternate_keys.is_empty() {
            x.push_str(
                "<Annotation Term=\"OData.Community.Keys.V1.AlternateKeys\">\n<Collection>\n",
            );
            for key in &def.alternate_keys {
                x.push_str("<Record Type=\"OData.Community.Keys.V1.AlternateKey\">\n<PropertyValue Property=\"Key\">\n<Collection>\n");
                for column in key {
                    let column = xml_escape(column);
                    x.push_str(&format!(
                        "<Record Type=\"OData.Community.Keys.V1.PropertyRef\">\n<PropertyValue Property=\"Alias\" String=\"{column}\" />\n<PropertyValue Property=\"Name\" PropertyPath=\"{column}\" />\n</Record>\n"
                    ));
                }
                x.push_str("</Collection>\n</PropertyValue>\n</Record>\n");
            }
            x.push_str("</Collection>\n</Annotation>\n");
        }
        x.push_str("</EntityType>\n");
    }
    x.push_str("<ComplexType Name=\"WhoAmIResponse\">\n<Property Name=\"BusinessUnitId\" Type=\"Edm.Guid\" Nullable=\"false\" />\n<Property Name=\"UserId\" Type=\"Edm.Guid\" Nullable=\"false\" />\n<Property Name=\"OrganizationId\" Type=\"Edm.Guid\" Nullable=\"false\" />\n</ComplexType>\n");
    x.push_str("<Function Name=\"WhoAmI\">\n<ReturnType Type=\"mscrm.WhoAmIResponse\" Nullable=\"false\" />\n</Function>\n");
    x.push_str("<EntityContainer Name=\"System\">\n");
    for table in &org.tables {
        let def = &table.def;
        x.push_str(&format!(
            "<EntitySet Name=\"{}\" EntityType=\"Microsoft.Dynamics.CRM.{}\">\n",
            xml_escape(&def.entity_set),
            xml_escape(&def.logical_name)
        ));
        for lookup in &def.lookups {
            x.push_str(&format!(
                "<NavigationPropertyBinding Path=\"{}\" Target=\"{}\" />\n",
                xml_escape(&lookup.navigation),
                xml_escape(&lookup.target)
            ));
        }
        for (child, lookup) in collections(org, def) {
            x.push_str(&format!(
                "<NavigationPropertyBinding Path=\"{}\" Target=\"{}\" />\n",
                xml_escape(&lookup.collection_name(child)),
                xml_escape(&child.entity_set)
            ));
        }
        x.push_str("</EntitySet>\n");
    }
    x.push_str("<FunctionImport Name=\"WhoAmI\" Function=\"Microsoft.Dynamics.CRM.WhoAmI\" />\n");
    x.push_str("</EntityContainer>\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n");
    Reply::new(StatusCode::OK)
        .with_body(x)
        .with_header(header::CONTENT_TYPE, "application/xml")
}

/// `GET /api/data/v9.2/`: one entry per entity set (dataverse.md §1.1).
pub(super) fn service_document(org: &Org, ctx: &Ctx<'_>) -> Reply {
    let sets = org
        .tables
        .iter()
        .map(|t| {
            Out::Obj(vec![
                ("name".into(), Out::str(&t.def.entity_set)),
                ("kind".into(), Out::str("EntitySet")),
                ("url".into(), Out::str(&t.def.entity_set)),
            ])
        })
        .collect();
    json_reply(
        StatusCode::OK,
        &Out::Obj(vec![
            (
                "@odata.context".into(),
                Out::str(format!("{}/$metadata", ctx.base)),
            ),
            ("value".into(), Out::Arr(sets)),
        ]),
    )
}

/// The lookups of other tables that point at `def` (its collection-valued
/// navigation properties), with the table each is declared on.
fn collections<'a>(
    org: &'a Org,
    def: &'a TableDef,
) -> impl Iterator<Item = (&'a TableDef, &'a crate::world::tables::schema::Lookup)> {
    org.tables.iter().flat_map(move |child| {
        child
            .def
            .lookups
            .iter()
            .filter(move |l| l.target == def.entity_set)
            .map(move |l| (&*child.def, l))
    })
}
