//! Creates the inventory table exactly as `infra/template.yaml` declares it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("template has no AWS::DynamoDB::Table resource named {0}")]
    NoTable(String),
    #[error("creating the table failed: {0}")]
    Create(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub attribute_definitions: Vec<AttributeSpec>,
    pub key_schema: Vec<KeySpec>,
    pub time_to_live_specification: Option<TtlSpec>,
    pub stream_specification: Option<StreamSpec>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexSpec>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexSpec {
    pub index_name: String,
    pub key_schema: Vec<KeySpec>,
    pub projection: ProjectionSpec,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionSpec {
    pub projection_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeSpec {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySpec {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlSpec {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpec {
    pub stream_view_type: String,
}

pub const TABLE_RESOURCE: &str = "InventoryTable";

pub fn read_template(path: &Path) -> Result<serde_yaml::Value, TemplateError> {
    let read_error = |message: String| TemplateError::Read { path: path.display().to_string(), message };
    let text = std::fs::read_to_string(path).map_err(|error| read_error(error.to_string()))?;
    serde_yaml::from_str(&text).map_err(|error| read_error(error.to_string()))
}

pub fn table_definition(template: &serde_yaml::Value, resource: &str) -> Result<TableDefinition, TemplateError> {
    let table = &template["Resources"][resource];
    if table["Type"].as_str() != Some("AWS::DynamoDB::Table") {
        return Err(TemplateError::NoTable(resource.to_owned()));
    }
    serde_yaml::from_value(table["Properties"].clone())
        .map_err(|error| TemplateError::Read { path: resource.to_owned(), message: error.to_string() })
}

/// Creates `name` from the definition; an existing table is left alone.
pub async fn create_table(client: &Client, name: &str, definition: &TableDefinition) -> Result<(), TemplateError> {
    let create_error = |error: String| TemplateError::Create(error);
    let mut request = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for attribute in &definition.attribute_definitions {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&attribute.attribute_name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                .build()
                .map_err(|error| create_error(error.to_string()))?,
        );
    }
    let key_element = |key: &KeySpec| {
        KeySchemaElement::builder()
            .attribute_name(&key.attribute_name)
            .key_type(KeyType::from(key.key_type.as_str()))
            .build()
            .map_err(|error| create_error(error.to_string()))
    };
    for key in &definition.key_schema {
        request = request.key_schema(key_element(key)?);
    }
    for index in &definition.global_secondary_indexes {
        let keys = index.key_schema.iter().map(key_element).collect::<Result<Vec<_>, _>>()?;
        let projection = Projection::builder()
            .projection_type(ProjectionType::from(index.projection.projection_type.as_str()))
            .build();
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.index_name)
                .set_key_schema(Some(keys))
                .projection(projection)
                .build()
                .map_err(|error| create_error(error.to_string()))?,
        );
    }
    if let Some(stream) = &definition.stream_specification {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                .build()
                .map_err(|error| create_error(error.to_string()))?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => return Ok(()),
        Err(error) => return Err(create_error(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())),
    }
    if let Some(ttl) = &definition.time_to_live_specification {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(&ttl.attribute_name)
                    .enabled(ttl.enabled)
                    .build()
                    .map_err(|error| create_error(error.to_string()))?,
            )
            .send()
            .await
            .map_err(|error| create_error(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string()))?;
    }
    Ok(())
}

/// Reads the workspace template and creates the inventory table from it.
pub async fn create_inventory_table(client: &Client, name: &str) -> Result<(), TemplateError> {
    let template = read_template(&crate::moto::workspace_root().join("infra/template.yaml"))?;
    create_table(client, name, &table_definition(&template, TABLE_RESOURCE)?).await
}

/// A parameter's `Default` in the workspace template, so local runs use the deployed defaults.
pub fn parameter_default(name: &str) -> Result<Option<String>, TemplateError> {
    let template = read_template(&crate::moto::workspace_root().join("infra/template.yaml"))?;
    Ok(match &template["Parameters"][name]["Default"] {
        serde_yaml::Value::String(value) => Some(value.clone()),
        serde_yaml::Value::Number(value) => Some(value.to_string()),
        _ => None,
    })
}
