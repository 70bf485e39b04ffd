package io.dense4j.optim;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.jsontype.TypeSerializer;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;

/**
 * Writes an optimizer's {@code learning_rate} as Keras does: a plain number for a constant rate, the schedule's
 * typed object otherwise (reading needs no help: a number is a {@link LearningRateSchedule.Constant}, the
 * schedule's default type).
 */
final class LearningRateJson extends StdSerializer<LearningRateSchedule> {
    LearningRateJson() {
        super(LearningRateSchedule.class);
    }

    @Override
    public void serialize(LearningRateSchedule value, JsonGenerator gen, SerializerProvider provider) throws IOException {
        if (value instanceof LearningRateSchedule.Constant c) {
            gen.writeNumber(c.lr());
        } else {
            // the schedule's own serializer, with the "type" id of the base type
            TypeSerializer typed = provider.findTypeSerializer(provider.constructType(LearningRateSchedule.class));
            provider.findValueSerializer(value.getClass()).serializeWithType(value, gen, provider, typed);
        }
    }

    /** The property's type is polymorphic, so Jackson asks for type ids: this serializer writes its own. */
    @Override
    public void serializeWithType(LearningRateSchedule value, JsonGenerator gen, SerializerProvider provider,
                                  TypeSerializer typeSer) throws IOException {
        serialize(value, gen, provider);
    }
}
