package io.dense4j.tensor;

import java.util.Arrays;
import java.util.List;

/**
 * The element types of the tensor formats Dense4J reads and writes: safetensors files and the Open Inference
 * Protocol (KServe V2, JSON and binary). One catalogue: each type's name in both formats, its size in bytes and
 * its range; {@link ElementCodec} converts between them and float32 / int32.
 *
 * <p>Dense4J tensors themselves hold {@link Tensor.DType#FLOAT32} or {@link Tensor.DType#INT32}; {@link #tensorType()}
 * says which one a type is read as.
 */
public enum ElementType {
    BOOL("BOOL", "BOOL", 1),
    UINT8("U8", "UINT8", 1),
    UINT16("U16", "UINT16", 2),
    UINT32("U32", "UINT32", 4),
    UINT64("U64", "UINT64", 8),
    INT8("I8", "INT8", 1),
    INT16("I16", "INT16", 2),
    INT32("I32", "INT32", 4),
    INT64("I64", "INT64", 8),
    /** IEEE 754 binary16. */
    FLOAT16("F16", "FP16", 2),
    /** The upper half of a float32 (8-bit exponent, 7-bit fraction); V2's name is Triton's. */
    BFLOAT16("BF16", "BF16", 2),
    FLOAT32("F32", "FP32", 4),
    FLOAT64("F64", "FP64", 8),
    /** V2's variable-length byte strings; not a number, and not a safetensors type. */
    BYTES(null, "BYTES", -1);

    private final String safetensorsName;
    private final String v2Name;
    private final int byteSize;

    ElementType(String safetensorsName, String v2Name, int byteSize) {
        this.safetensorsName = safetensorsName;
        this.v2Name = v2Name;
        this.byteSize = byteSize;
    }

    /** The safetensors {@code dtype} ("F16", "I64"...), or null for {@link #BYTES}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The Open Inference Protocol {@code datatype} ("FP16", "INT64"...). */
    public String v2Name() {
        return v2Name;
    }

    /** Bytes per element; -1 for {@link #BYTES}, whose elements have their own length. */
    public int byteSize() {
        return byteSize;
    }

    /**
     * Bytes that {@code elements} elements of this type take.
     *
     * @throws IllegalStateException for {@link #BYTES}
     * @throws ArithmeticException the count overflows a long
     */
    public long byteCount(long elements) {
        if (byteSize < 0) {
            throw new IllegalStateException(this + " elements have no fixed size");
        }
        return Math.multiplyExact(elements, (long) byteSize);
    }

    /** A number (every type but {@link #BYTES}): what {@link ElementCodec} converts. */
    public boolean isNumeric() {
        return this != BYTES;
    }

    /** FLOAT16, BFLOAT16, FLOAT32 or FLOAT64. */
    public boolean isFloatingPoint() {
        return this == FLOAT16 || this == BFLOAT16 || this == FLOAT32 || this == FLOAT64;
    }

    /** The signed and unsigned integers, not BOOL. */
    public boolean isInteger() {
        return isNumeric() && !isFloatingPoint() && this != BOOL;
    }

    /** The smallest value of an integer or BOOL type (0 for BOOL and the unsigned ones). */
    public long minValue() {
        return switch (this) {
            case INT8 -> Byte.MIN_VALUE;
            case INT16 -> Short.MIN_VALUE;
            case INT32 -> Integer.MIN_VALUE;
            case INT64 -> Long.MIN_VALUE;
            case BOOL, UINT8, UINT16, UINT32, UINT64 -> 0;
            default -> throw new IllegalStateException(this + " is not an integer type");
        };
    }

    /**
     * The largest value of an integer or BOOL type; for {@link #UINT64}, whose maximum 2^64-1 a long cannot hold,
     * -1 (its unsigned reading).
     */
    public long maxValue() {
        return switch (this) {
            case BOOL -> 1;
            case UINT8 -> 0xffL;
            case UINT16 -> 0xffffL;
            case UINT32 -> 0xffff_ffffL;
            case UINT64 -> -1L;
            case INT8 -> Byte.MAX_VALUE;
            case INT16 -> Short.MAX_VALUE;
            case INT32 -> Integer.MAX_VALUE;
            case INT64 -> Long.MAX_VALUE;
            default -> throw new IllegalStateException(this + " is not an integer type");
        };
    }

    /** The Dense4J tensor type this type is read as: FLOAT32 for the floating-point types, INT32 for the others. */
    public Tensor.DType tensorType() {
        if (!isNumeric()) {
            throw new IllegalStateException(this + " is not numeric: no tensor type holds it");
        }
        return isFloatingPoint() ? Tensor.DType.FLOAT32 : Tensor.DType.INT32;
    }

    /** The type whose safetensors name is {@code name} (case-sensitive, as the format is), or null. */
    public static ElementType fromSafetensorsName(String name) {
        for (ElementType t : values()) {
            if (t.safetensorsName != null && t.safetensorsName.equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** The type whose Open Inference Protocol name is {@code name} (case-sensitive, as the protocol is), or null. */
    public static ElementType fromV2Name(String name) {
        for (ElementType t : values()) {
            if (t.v2Name.equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** Every safetensors name, in catalogue order: what error messages list. */
    public static List<String> safetensorsNames() {
        return Arrays.stream(values()).map(ElementType::safetensorsName).filter(n -> n != null).toList();
    }

    /** Every Open Inference Protocol name, in catalogue order. */
    public static List<String> v2Names() {
        return Arrays.stream(values()).map(ElementType::v2Name).toList();
    }
}
