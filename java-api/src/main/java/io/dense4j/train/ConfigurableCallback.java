package io.dense4j.train;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/** The built-in callbacks that have a config, so that a job's fit settings can be written as JSON. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({@JsonSubTypes.Type(value = EarlyStopping.class, name = "early_stopping"),
        @JsonSubTypes.Type(value = ModelCheckpoint.class, name = "model_checkpoint")})
public sealed interface ConfigurableCallback extends Callback permits EarlyStopping, ModelCheckpoint {
}
