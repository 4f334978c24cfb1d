package io.cloudbridge.api.runtime;

import java.util.List;
import java.util.Map;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Whiteboard: checks a configuration section beyond what its metatype can say (a feature name that
 * must exist, a prefix that must not overlap another). Register with the service property
 * {@value #SECTION} naming the section. The configuration bridge calls every validator of a
 * section before applying an edit; any problem refuses the edit whole.
 */
@ConsumerType
public interface ConfigurationValidator {

    /** The service property naming the section a validator checks. */
    String SECTION = "cloudbridge.section";

    /**
     * @param values the section's values, typed as ConfigAdmin will receive them (only the keys
     *               the operator set)
     * @return problems, each naming the key and what is wrong; empty when the section is fine
     */
    List<String> validate(Map<String, Object> values);
}
