package io.cloudbridge.kernel.internal.config;

import io.cloudbridge.boot.config.ConfigEntry;
import io.cloudbridge.boot.config.ConfigValues;
import io.cloudbridge.boot.config.KeyNames;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.osgi.framework.Bundle;
import org.osgi.service.metatype.AttributeDefinition;
import org.osgi.service.metatype.ObjectClassDefinition;

/**
 * The attributes a component declares for one configuration section (its metatype), and the typing
 * and checking of the operator's values against them.
 */
final class SectionSchema {
    private final String section;
    private final Bundle bundle;
    private final Map<String, AttributeDefinition> attributes = new LinkedHashMap<>();

    SectionSchema(String section, Bundle bundle, ObjectClassDefinition ocd) {
        this.section = section;
        this.bundle = bundle;
        for (AttributeDefinition ad : ocd.getAttributeDefinitions(ObjectClassDefinition.ALL)) {
            attributes.put(ad.getID(), ad);
        }
    }

    String section() {
        return section;
    }

    Bundle bundle() {
        return bundle;
    }

    Map<String, AttributeDefinition> attributes() {
        return attributes;
    }

    /** The attribute a key names: by exact id, else by the separator- and case-blind spelling. */
    Optional<AttributeDefinition> find(String key) {
        AttributeDefinition exact = attributes.get(key);
        if (exact != null) {
            return Optional.of(exact);
        }
        String wanted = KeyNames.normalize(key);
        return attributes.values().stream().filter(ad -> KeyNames.normalize(ad.getID()).equals(wanted)).findFirst();
    }

    boolean isSecret(AttributeDefinition ad) {
        return ad.getType() == AttributeDefinition.PASSWORD || KeyNames.isSecretName(ad.getID());
    }

    /**
     * Types an entry's value for ConfigAdmin and checks it against the attribute's type, range and
     * options.
     *
     * @return the typed value
     * @throws IllegalArgumentException with the reason when the value does not fit
     */
    Object convert(AttributeDefinition ad, ConfigEntry entry) {
        Object raw = entry.value();
        boolean multi = ad.getCardinality() != 0;
        List<String> items;
        if (raw instanceof List<?>) {
            if (!multi) {
                throw new IllegalArgumentException("expects a single value, not a list");
            }
            items = ConfigValues.toStringList(raw);
        } else if (multi) {
            items = ConfigValues.toStringList(raw); // comma-separated in the environment and on the CLI
        } else {
            items = List.of(String.valueOf(raw));
        }
        int max = Math.abs(ad.getCardinality());
        if (multi && max != Integer.MAX_VALUE && items.size() > max) {
            throw new IllegalArgumentException("takes at most " + max + " values");
        }
        // A refusal is logged and shown by cb:status: never quote a secret's value in it.
        boolean secret = isSecret(ad);
        List<Object> typed = new ArrayList<>(items.size());
        for (String item : items) {
            String shown = secret ? "the value" : "'" + item + "'";
            Object value = typeOne(ad, item, shown);
            String problem = ad.validate(item);
            if (problem != null && !problem.isEmpty()) {
                throw new IllegalArgumentException(explain(ad, shown, secret ? "out of range" : problem));
            }
            typed.add(value);
        }
        if (!multi) {
            return typed.get(0);
        }
        Object array = Array.newInstance(javaType(ad.getType()), typed.size());
        for (int i = 0; i < typed.size(); i++) {
            Array.set(array, i, typed.get(i));
        }
        return array;
    }

    private static String explain(AttributeDefinition ad, String shown, String problem) {
        String[] options = ad.getOptionValues();
        if (options != null && options.length > 0) {
            return shown + " is not one of " + String.join(", ", options);
        }
        return shown + " is not accepted: " + problem;
    }

    private static Object typeOne(AttributeDefinition ad, String text, String shown) {
        String t = text.trim();
        try {
            return switch (ad.getType()) {
                case AttributeDefinition.INTEGER -> Integer.valueOf(t);
                case AttributeDefinition.LONG -> Long.valueOf(t);
                case AttributeDefinition.SHORT -> Short.valueOf(t);
                case AttributeDefinition.BYTE -> Byte.valueOf(t);
                case AttributeDefinition.DOUBLE -> Double.valueOf(t);
                case AttributeDefinition.FLOAT -> Float.valueOf(t);
                case AttributeDefinition.CHARACTER -> {
                    if (text.length() != 1) {
                        throw new IllegalArgumentException("expects a single character, not " + shown);
                    }
                    yield text.charAt(0);
                }
                case AttributeDefinition.BOOLEAN -> {
                    String b = t.toLowerCase(Locale.ROOT);
                    if (!b.equals("true") && !b.equals("false")) {
                        throw new IllegalArgumentException("expects true or false, not " + shown);
                    }
                    yield Boolean.valueOf(b);
                }
                default -> text;
            };
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("expects " + typeName(ad.getType()) + ", not " + shown);
        }
    }

    private static Class<?> javaType(int type) {
        return switch (type) {
            case AttributeDefinition.INTEGER -> Integer.class;
            case AttributeDefinition.LONG -> Long.class;
            case AttributeDefinition.SHORT -> Short.class;
            case AttributeDefinition.BYTE -> Byte.class;
            case AttributeDefinition.DOUBLE -> Double.class;
            case AttributeDefinition.FLOAT -> Float.class;
            case AttributeDefinition.CHARACTER -> Character.class;
            case AttributeDefinition.BOOLEAN -> Boolean.class;
            default -> String.class;
        };
    }

    static String typeName(int type) {
        return switch (type) {
            case AttributeDefinition.INTEGER, AttributeDefinition.LONG, AttributeDefinition.SHORT,
                    AttributeDefinition.BYTE -> "a whole number";
            case AttributeDefinition.DOUBLE, AttributeDefinition.FLOAT -> "a number";
            case AttributeDefinition.BOOLEAN -> "true or false";
            case AttributeDefinition.CHARACTER -> "a character";
            default -> "text";
        };
    }
}
