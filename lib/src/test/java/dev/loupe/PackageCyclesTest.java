package dev.loupe;

import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The library's top-level packages ({@code dev.loupe.model}, {@code dev.loupe.cache}, ...) form a
 * layered graph: no package may depend, directly or through others, on a package that depends on it.
 * Only the main classes are checked; tests may reach across packages freely.
 */
class PackageCyclesTest {

    @Test
    void topLevelPackagesAreFreeOfCycles() {
        JavaClasses main = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.loupe");
        slices().matching("dev.loupe.(*)..").should().beFreeOfCycles().check(main);
    }
}
