package io.cloudbridge.itest;

import aQute.bnd.osgi.Builder;
import aQute.bnd.osgi.Jar;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.util.Map;
import org.ops4j.pax.exam.CoreOptions;
import org.ops4j.pax.exam.Option;

/** Bundles the tests build themselves with bnd, from this module's compiled test classes. */
final class TestBundles {
    private TestBundles() {
    }

    /**
     * A bundle of one package, with its DS components and metatype processed.
     *
     * @param headers more bnd instructions or headers (Bundle-Version, say)
     */
    static byte[] build(String symbolicName, String privatePackage, Map<String, String> headers) throws Exception {
        try (Builder b = new Builder()) {
            b.setProperty("Bundle-SymbolicName", symbolicName);
            b.setProperty("Private-Package", privatePackage);
            b.setProperty("-dsannotations", "*");
            b.setProperty("-metatypeannotations", "*");
            headers.forEach(b::setProperty);
            b.addClasspath(new File(System.getProperty("cloudbridge.testClasses")));
            Jar jar = b.build();
            if (!b.isOk()) {
                throw new IllegalStateException("bnd: " + b.getErrors());
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            jar.write(out);
            return out.toByteArray();
        }
    }

    /** The runtime's options plus one framework property (how a test inside finds what was built outside). */
    static Option[] with(Option[] runtime, String property, String value) {
        Option[] all = java.util.Arrays.copyOf(runtime, runtime.length + 1);
        all[runtime.length] = CoreOptions.frameworkProperty(property).value(value);
        return all;
    }
}
